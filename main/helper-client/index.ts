export { HelperClient, type BoundSocket, type HelloInfo, type HelperClientOptions } from './client';
export { HelperProtocolError, HelperRequestError, HelperUnavailableError, type UnavailableReason } from './errors';
