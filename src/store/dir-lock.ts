// An exclusive lock on a data directory, held by one live process. PGlite runs PostgreSQL inside
// this process, so a second process opening the same files would corrupt them.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export class DataDirLockedError extends Error {
  constructor(
    public readonly lockFile: string,
    public readonly holderPid: number,
  ) {
    super(
      `data directory is in use by process ${holderPid} (lock file ${lockFile}); ` +
        'stop that process or point this one at another directory',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DirLock {
  release(): void;
}

/**
 * Takes `<dir>/<fileName>` holding "pid token". A lock whose process is gone (killed) is stale and
 * taken over. A lock held by this very process also counts as in use: two stores on one directory
 * in one process would corrupt it just the same.
 */
export function lockDataDir(dir: string, fileName = 'skein-store.lock'): DirLock {
  const lockFile = path.join(dir, fileName);
  const token = randomUUID();
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockFile, `${process.pid} ${token}\n`, { flag: 'wx' });
      return { release: () => releaseIfOurs(lockFile, token) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolderPid(lockFile);
    if (holder !== undefined && isAlive(holder)) throw new DataDirLockedError(lockFile, holder);
    // Stale (or vanished meanwhile): remove it and try again. Two processes finding the same stale
    // lock at the same instant could both get through; that window is a few microseconds.
    fs.rmSync(lockFile, { force: true });
  }
  throw new Error(`could not take lock file ${lockFile}`);
}

function readHolderPid(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockFile, 'utf8').split(' ')[0], 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseIfOurs(lockFile: string, token: string): void {
  try {
    if (fs.readFileSync(lockFile, 'utf8').includes(token)) fs.rmSync(lockFile);
  } catch {
    // Already gone: nothing to release.
  }
}
