import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerStats } from '../../../src/node/fluxos/runtime.ts';

describe('container stats', () => {
  it('reads Docker stats as docker stats shows them (cgroup v2), page cache not counted as use', () => {
    const s = containerStats({
      cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 4 },
      precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
      memory_stats: { usage: 10_000, limit: 33_554_432, stats: { inactive_file: 4_000 } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 20 }, eth1: { rx_bytes: 1, tx_bytes: 2 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'read', value: 7 },
          { op: 'write', value: 9 },
        ],
      },
    });
    assert.deepEqual(s, {
      cpuPercent: 80,
      memory: { used: 6_000, limit: 33_554_432 },
      network: { rx: 11, tx: 22 },
      blockIo: { read: 7, write: 9 },
    });
  });

  it('answers zeros for a first sample without a previous reading, and cgroup v1 names', () => {
    const s = containerStats({
      cpu_stats: { cpu_usage: { total_usage: 5 }, system_cpu_usage: 5 },
      memory_stats: { usage: 100, limit: 200, stats: { total_inactive_file: 40 } },
      blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 3 }] },
    });
    assert.equal(s.cpuPercent, 0);
    assert.equal(s.memory.used, 60);
    assert.equal(s.blockIo.read, 3);
    assert.equal(s.network.rx, 0);
  });
});
