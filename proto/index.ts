/** The federation protocol: domain types, the service and link interfaces, and their transports. */
export type { CoordinatorLink, FederationService } from './api.ts';
export { CHUNK_BYTES, ChunkAssembler, chunksOf } from './chunks.ts';
export { decodeWeights, encodeWeights } from './convert.ts';
export { channelCredentials, hostOf, isLoopback, serverCredentials, type ClientTls, type ServerTls } from './credentials.ts';
export { isTransient, RpcError, type RpcCode } from './errors.ts';
export { GrpcLink, type GrpcLinkOptions } from './grpc-link.ts';
export { serveFederation, type RunningServer, type ServeOptions } from './grpc-server.ts';
export { InProcessLink } from './in-process-link.ts';
export type * from './types.ts';
