/**
 * `hami.io/device-cordon` on a Node: the operator's comma-separated list of device UUIDs taken out
 * of scheduling (`GPU-a,GPU-b`). Blanks around ids and empty entries are ignored; there is nothing
 * else to validate, since an id that matches no device simply cordons nothing.
 */
export function decodeDeviceCordon(text: string | undefined): Set<string> {
  return new Set(
    (text ?? '')
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== ''),
  );
}
