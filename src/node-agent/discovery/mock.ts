/**
 * A DeviceBackend that reads the node's devices from a YAML file (format: mock-format.ts and
 * docs/node-agent.md, "Mock devices"). The file is read again on every `inventory()` call, so
 * editing it changes the devices' health while the agent runs, which is how tests and the demo
 * simulate a failing GPU. A file that has become unreadable or malformed makes `inventory()`
 * throw; keeping the last good inventory is the caller's policy.
 */

import { readFile } from 'node:fs/promises';

import type { DeviceBackend, DeviceUsageSample, DiscoveredInventory } from './backend.js';
import { DiscoveryError } from './backend.js';
import { parseMockFile, type MockFileContents } from './mock-format.js';

export interface MockBackendOptions {
  /** Path of the YAML file. */
  readonly file: string;
  /** The node's name: seeds the UUIDs derived for devices that do not set one. */
  readonly nodeName: string;
}

export class MockBackend implements DeviceBackend {
  readonly source: string;
  private closed = false;

  constructor(private readonly options: MockBackendOptions) {
    this.source = `mock (${options.file})`;
  }

  /**
   * A backend whose file has been read once, so a bad file stops the agent at start.
   *
   * @throws DiscoveryError when the file cannot be read or is malformed
   */
  static async open(options: MockBackendOptions): Promise<MockBackend> {
    const backend = new MockBackend(options);
    await backend.inventory();
    return backend;
  }

  async inventory(): Promise<DiscoveredInventory> {
    return (await this.read('inventory')).inventory;
  }

  /** Each device's `usage` from the file as it is now (zeros where the file gives none). */
  async usage(): Promise<readonly DeviceUsageSample[]> {
    return (await this.read('usage')).usage;
  }

  private async read(call: string): Promise<MockFileContents> {
    if (this.closed) throw new DiscoveryError(`${this.source}: ${call}() after close()`);
    const { file, nodeName } = this.options;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new DiscoveryError(
        `cannot read the mock devices file ${file}: ${(error as Error).message}; ` +
          'check the --devices path (format: docs/node-agent.md, "Mock devices")',
        { cause: error },
      );
    }
    return parseMockFile(text, file, nodeName);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
