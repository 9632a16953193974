// Discovery messages as @grpc/proto-loader hands them over (keepCase, defaults: true).
import type { AnyMessage } from '../../envoy/protos.js';
import type { NodeMessage } from './node.js';
import type { ErrorDetail } from './hooks.js';

export interface DiscoveryRequest {
  version_info: string;
  node?: NodeMessage | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: ErrorDetail | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
}

export interface DeltaDiscoveryRequest {
  node?: NodeMessage | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: ErrorDetail | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: AnyMessage;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

/** A request carries error_detail only on NACK; proto-loader fills an unset message with null. */
export function isNack(errorDetail: ErrorDetail | null | undefined): errorDetail is ErrorDetail {
  return !!errorDetail && (errorDetail.code !== 0 || errorDetail.message !== '');
}
