#!/usr/bin/env node
// `npm start`'s pre-step: builds what the server runs from when it is missing or older than its
// sources: the dashboard (dashboard/dist) and the compiled server (dist/, from src/ by tsc).
// Running compiled JavaScript instead of transpiling through tsx at every start halves the start-up
// time (npm run bench:startup); tests and the CLI still run the sources through tsx.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.built');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

const run = (script) => execFileSync('npm', ['run', '--silent', script], { cwd: root, stdio: 'inherit' });

if (!fs.existsSync(path.join(root, 'dashboard', 'dist', 'index.html'))) run('build:dashboard');
const builtAt = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
const sourcesAt = Math.max(newestMtime(path.join(root, 'src')), fs.statSync(path.join(root, 'tsconfig.build.json')).mtimeMs);
if (sourcesAt > builtAt) run('build');
