/**
 * The Kubernetes adapter of the scheduler extender and node agent: a typed port over the API
 * ({@link KubeClient}), informers that restart themselves, HAMi's node lock and Lease-based
 * leader election. Nothing outside this folder imports `@kubernetes/client-node`'s API classes.
 */
export {
  ClientNodeKubeClient,
  KubeApiError,
  createKubeClient,
  isAlreadyExists,
  isConflict,
  isNotFound,
  toKubeApiError,
  type BindOptions,
  type EventInput,
  type InvolvedObject,
  type JsonPatchOperation,
  type JsonValue,
  type KubeClient,
  type KubeClientOptions,
  type KubeEvent,
  type KubeList,
  type Lease,
  type Namespace,
  type ListOptions,
  type MergePatch,
  type MergePatchOptions,
  type Node,
  type Pod,
  type ResourceQuota,
} from './client.js';
export {
  ResilientInformer,
  createNodeInformer,
  createPodInformer,
  type BackoffOptions,
  type Informer,
  type InformerErrorContext,
  type InformerEventType,
  type InformerHandler,
  type InformerOptions,
  type InformerSource,
  type PodInformerOptions,
} from './informer.js';
export {
  NODE_LOCK_TIMEOUT_MS,
  NodeLocker,
  type AcquireResult,
  type AcquiredHow,
  type NodeLock,
  type NodeLockOptions,
  type NodeLockOwner,
  type RefusedReason,
  type ReleaseResult,
} from './node-lock.js';
export { LEADER_ELECTION_DEFAULTS, LeaderElector, type LeaderElectionOptions } from './leader.js';
export { EventRecorder, type EventRecorderOptions } from './events.js';
export { holdsLease, LeaseFollower, type LeaseFollowerOptions } from './lease-follower.js';
export { loadKubeConfig } from './kubeconfig.js';
