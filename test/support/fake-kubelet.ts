/**
 * The fake kubelet the tests drive the node agent with: the demo cluster's kubelet device manager
 * (src/demo/cluster/kubelet-devices.ts), which speaks the real device plugin protocol over unix
 * sockets. Re-exported here under the name the tests use.
 */
export { CallError, KubeletDevices as FakeKubelet, type PreferredRequest } from '../../src/demo/cluster/kubelet-devices.js';
