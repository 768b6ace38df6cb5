/**
 * Where a process finds its cluster: an explicit kubeconfig file, else what client-go would use
 * (`$KUBECONFIG`, `~/.kube/config`, or the in-cluster service account).
 */
import { KubeConfig } from '@kubernetes/client-node';

import { TesseraError } from '../core/errors.js';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path === undefined) kc.loadFromDefault();
    else kc.loadFromFile(path);
  } catch (error) {
    throw new TesseraError('TESSERA_ERR_CONFIG', `kubeconfig ${path ?? '(default)'}: ${(error as Error).message}`, { cause: error });
  }
  if (kc.getCurrentCluster() === null) {
    throw new TesseraError(
      'TESSERA_ERR_CONFIG',
      `kubeconfig ${path ?? '(default: $KUBECONFIG, ~/.kube/config or in-cluster)'}: no current cluster; pass --kubeconfig or run inside a pod`,
    );
  }
  return kc;
}
