/** In place of the app: it cannot reach Berth (error), or Berth has quit (neutral). What happened and what to do. */
export function FatalScreen({ title, message, tone = 'error' }: { title: string; message: string; tone?: 'error' | 'neutral' }) {
  return (
    <main className={`window fatal fatal-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      <h1>{title}</h1>
      <p>{message}</p>
    </main>
  );
}
