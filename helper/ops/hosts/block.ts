// Berth's hosts block is parsed by one module shared with the app (capabilities, diagnostics).
export * from '../../../common/hosts-block';
