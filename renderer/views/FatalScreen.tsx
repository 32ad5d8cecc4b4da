/** When the page cannot reach Berth at all: what happened and what to do, in place of the app. */
export function FatalScreen({ title, message }: { title: string; message: string }) {
  return (
    <main className="window fatal" role="alert">
      <h1>{title}</h1>
      <p>{message}</p>
    </main>
  );
}
