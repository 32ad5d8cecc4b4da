export { HelperClient, type BoundSocket, type HelloInfo, type HelperClientOptions, type ProgressListener } from './client';
export { HelperProtocolError, HelperRequestError, HelperUnavailableError, type UnavailableReason } from './errors';
