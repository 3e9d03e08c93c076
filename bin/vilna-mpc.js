#!/usr/bin/env node
// Launcher for the `vilna-mpc` command. The code is TypeScript run by Node ≥ 22.18's type
// stripping; on an older node (the system's end-of-life Node 20) it re-executes itself with
// the Node 24 the project pins as a devDependency (DESIGN §2).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const pinned = path.join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    console.error(`vilna-mpc needs Node >= 22.18 (this is ${process.version}); run "npm install" in ${root} first.`);
    process.exit(1);
  }
  const r = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
await import('../cli/main.ts');
