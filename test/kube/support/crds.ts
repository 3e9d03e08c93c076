/** Installs the project's CRDs (crds/*.yaml) on a control plane and waits until they are served. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, loadYaml, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { GROUP, PLURALS } from '../../../api/crd.ts';

const crdDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'crds');

export async function installCrds(kc: KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  // loadYaml maps the wire names (x-kubernetes-validations, default) onto client-node's model;
  // a plain YAML parse would have them dropped on the way out.
  for (const f of (await readdir(crdDir)).filter((f) => f.endsWith('.yaml'))) {
    await ext.createCustomResourceDefinition({ body: loadYaml<V1CustomResourceDefinition>(await readFile(path.join(crdDir, f), 'utf8')) });
  }
  for (const plural of Object.values(PLURALS)) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${GROUP}` });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${plural} not established`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
