// The proxy identity an xDS stream announces (envoy.config.core.v3.Node), in plain JSON form.

export interface XdsNode {
  id: string;
  cluster: string;
  /** google.protobuf.Struct converted to plain JSON (Kuma puts dataplane.* keys here). */
  metadata: Record<string, unknown>;
  locality: { region: string; zone: string; sub_zone: string };
  userAgentName: string;
  userAgentVersion: string;
}

/** The Node message as @grpc/proto-loader decodes it (keepCase, defaults, oneofs). */
export interface NodeMessage {
  id?: string;
  cluster?: string;
  metadata?: StructMessage | null;
  locality?: { region?: string; zone?: string; sub_zone?: string } | null;
  user_agent_name?: string;
  user_agent_version?: string;
}

interface StructMessage {
  fields?: Record<string, ValueMessage>;
}

// protobufjs defines the well-known Struct types itself, with camelCase field names even under
// keepCase; `kind` names the field that is set.
interface ValueMessage {
  kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue';
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage;
  listValue?: { values?: ValueMessage[] };
}

export function nodeFromMessage(message: NodeMessage): XdsNode {
  return {
    id: message.id ?? '',
    cluster: message.cluster ?? '',
    metadata: message.metadata ? structToJson(message.metadata) : {},
    locality: {
      region: message.locality?.region ?? '',
      zone: message.locality?.zone ?? '',
      sub_zone: message.locality?.sub_zone ?? '',
    },
    userAgentName: message.user_agent_name ?? '',
    userAgentVersion: message.user_agent_version ?? '',
  };
}

export function structToJson(struct: StructMessage): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct.fields ?? {})) json[key] = valueToJson(value);
  return json;
}

function valueToJson(value: ValueMessage): unknown {
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    case 'structValue':
      return structToJson(value.structValue ?? {});
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}
