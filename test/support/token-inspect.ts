/**
 * What another process that holds a token's PIN can see in it through PKCS#11 (graphene-pk11):
 * the integration tests use it to show that secret keys stay inside the token and which keys
 * a token holds, independently of the vault's own session.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { ProvisionedToken } from '../../hsm-sim/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Runs `body` in a child process with `s`, a logged-in session on the token (and `graphene`), and
 * returns the JSON value the body passes to `done(...)`. `env` adds variables the body reads.
 */
export function inspectToken<T>(token: ProvisionedToken, body: string, env: Record<string, string> = {}): T {
  const script = `
    const graphene = (await import('graphene-pk11')).default;
    const { readFileSync } = await import('node:fs');
    const mod = graphene.Module.load(process.env.MODULE, 'inspect');
    mod.initialize();
    const slots = mod.getSlots(true);
    let slot;
    for (let i = 0; i < slots.length; i++) if (slots.items(i).getToken().label.trim() === process.env.LABEL) slot = slots.items(i);
    const s = slot.open(graphene.SessionFlag.SERIAL_SESSION);
    s.login(readFileSync(process.env.PIN_FILE, 'utf8').trim());
    let out;
    const done = (value) => { out = value; };
    ${body}
    s.logout(); s.close(); mod.finalize();
    console.log(JSON.stringify(out));`;
  const vars = { SOFTHSM2_CONF: token.conf, MODULE: token.modulePath, LABEL: token.label, PIN_FILE: token.pinFile, ...env };
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, ...vars }, encoding: 'utf8', timeout: 20_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}
