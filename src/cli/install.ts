// `skein install control-plane`: prints the Kubernetes manifests of a control plane and its
// mesh-scoped zone proxies (pipe into `kubectl apply -f -`). Pure rendering: no control plane code.
import { Command } from 'commander';
import { transparentProxyCommand } from './transparent-proxy.js';

const collect = (v: string, acc: string[]) => [...acc, v];

export function installCommand(): Command {
  const install = new Command('install').description('Kubernetes: print the manifests, set up the transparent proxy');
  install
    .command('control-plane')
    .description('control plane, CRDs, sidecar injector webhook and mesh-scoped zone proxies (values as in deploy/values.yaml)')
    .option('-f, --values <file>', 'values file (YAML), merged over the defaults in order; repeatable', collect, [] as string[])
    .option('--set <key=value>', 'set a value (e.g. meshes[0].name=demo, controlPlane.mode=zone); repeatable', collect, [] as string[])
    .option('--release-name <name>', 'prefix of the object names', 'skein')
    .option('--namespace <ns>', 'namespace of the control plane (and, by default, of the zone proxies)', 'kuma-system')
    .action(async (flags: { values: string[]; set: string[]; releaseName: string; namespace: string }) => {
      // Loaded on use: rendering pulls in certificate generation and every kind's schema.
      const { loadValues } = await import('../install/values.js');
      const { renderObjects, toYaml } = await import('../install/render.js');
      const values = loadValues({ files: flags.values, sets: flags.set });
      const objects = await renderObjects(values, { release: flags.releaseName, namespace: flags.namespace });
      process.stdout.write(toYaml(objects));
    });
  install.addCommand(transparentProxyCommand());
  return install;
}
