// Resource kinds as the CLI names them (`mesh`, `meshes`, `dataplane`, ...), from the shared registry.
import '../api/index.js'; // registers every resource kind
import '../policies/kinds.js'; // and every policy kind
import { allDescriptors, descriptorByCliArg, descriptorByName, type ResourceDescriptor } from '../api/descriptor.js';

/** The kind a `get`/`inspect` argument names. */
export function kindForRead(arg: string): ResourceDescriptor {
  const d = descriptorByCliArg(arg);
  if (!d) throw new Error(`unknown TYPE: ${arg}. Allowed values: ${allowedArgs(false).join(', ')}`);
  return d;
}

/** The kind a `delete` argument names; read-only kinds are refused. */
export function kindForWrite(arg: string): ResourceDescriptor {
  const d = descriptorByCliArg(arg);
  if (!d) throw new Error(`unknown TYPE: ${arg}. Allowed values: ${allowedArgs(true).join(', ')}`);
  if (d.readOnly) throw new Error(`TYPE: ${arg} is readOnly, can't use it for write action`);
  return d;
}

export function kindByTypeName(type: string): ResourceDescriptor | undefined {
  return descriptorByName(type);
}

export function allKinds(): ResourceDescriptor[] {
  return allDescriptors();
}

function allowedArgs(writable: boolean): string[] {
  return allDescriptors()
    .filter((d) => !writable || !d.readOnly)
    .flatMap((d) => (writable ? [d.cliArg] : [d.cliArg, d.cliListArg]))
    .sort();
}
