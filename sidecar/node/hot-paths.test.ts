/**
 * Hot derived paths (issue 11 item 2): a path the key's policy names exactly is hot from the
 * start; another becomes hot once signed for HOT_AFTER times within HOT_WINDOW_MS and cools when
 * the demand stops; only paths the policy allows, at most MAX_HOT_PATHS per key, and the tracked
 * demand is bounded.
 */
import { describe, expect, it } from 'vitest';
import type { Policy } from '../../api/index.ts';
import { HOT_AFTER, HOT_WINDOW_MS, HotPaths, MAX_HOT_PATHS, MAX_TRACKED_PATHS } from './hot-paths.ts';

const WIDE: Policy = { version: 1, allowedPaths: ['m', 'm/*', 'm/*/*'] };

function harness() {
  let now = 1_000_000;
  return { paths: new HotPaths({ now: () => now }), advance: (ms: number) => void (now += ms) };
}

describe('hot derived paths', () => {
  it('makes a path hot on its second request within the window, and cold once the demand stops', () => {
    const { paths, advance } = harness();
    paths.requested('k', 'm/0/7');
    expect(paths.hot('k', WIDE)).toEqual([]);
    // Too far apart: the first request is out of the window when the second comes.
    advance(HOT_WINDOW_MS + 1);
    paths.requested('k', 'm/0/7');
    expect(paths.hot('k', WIDE)).toEqual([]);
    advance(HOT_WINDOW_MS - 1);
    paths.requested('k', 'm/0/7');
    expect(paths.hot('k', WIDE)).toEqual(['m/0/7']);
    expect(paths.hot('other', WIDE)).toEqual([]);
    advance(HOT_WINDOW_MS + 1);
    expect(paths.hot('k', WIDE)).toEqual([]);
  });

  it('puts the paths the policy names exactly first, then the most recently signed; never m, never a path the policy refuses', () => {
    const { paths } = harness();
    const policy: Policy = { version: 1, allowedPaths: ['m', 'm/0/*', 'm/1/5', 'm/44/0/0'] };
    for (const p of ['m/0/1', 'm/0/2', 'm/9/9', 'm']) for (let i = 0; i < HOT_AFTER; i++) paths.requested('k', p);
    expect(paths.hot('k', policy)).toEqual(['m/1/5', 'm/44/0/0', 'm/0/2', 'm/0/1']);
  });

  it('pools at most MAX_HOT_PATHS per key and tracks at most MAX_TRACKED_PATHS paths', () => {
    const { paths } = harness();
    for (let j = 0; j < MAX_TRACKED_PATHS + 5; j++) for (let i = 0; i < HOT_AFTER; i++) paths.requested('k', `m/${j}`);
    const hot = paths.hot('k', WIDE);
    expect(hot).toHaveLength(MAX_HOT_PATHS);
    expect(hot[0]).toBe(`m/${MAX_TRACKED_PATHS + 4}`);
    // The first paths were forgotten: asked for once more, m/0 is not hot (it would come first).
    paths.requested('k', 'm/0');
    expect(paths.hot('k', WIDE)[0]).toBe(`m/${MAX_TRACKED_PATHS + 4}`);
    paths.requested('k', 'm/0');
    expect(paths.hot('k', WIDE)[0]).toBe('m/0');
  });
});
