/**
 * What a newcomer meets first: `nexus --help`, the README's command list, and the answer to a
 * command typed wrong (a usage line and exit code 2, never a stack trace).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main.js';
import { ROOT } from '../helpers/server-process.js';

async function nexus(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The commands of the README's `nexus` section, as `group action` (the words before the first option or id). */
function readmeCommands(): { line: string; command: string }[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The `nexus` command'), readme.indexOf('\n## ', readme.indexOf('## The `nexus` command') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('npx nexus '))
    .map((line) => {
      const words = line.slice('npx nexus '.length).split(/\s+/);
      const end = words.findIndex((w) => !/^[a-z]+$/.test(w));
      return { line, command: words.slice(0, end === -1 ? words.length : end).join(' ') };
    });
}

describe('nexus usage', () => {
  it('--help lists every command, each of the README’s among them', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], []]) {
      const help = await nexus(...argv);
      assert.equal(help.code, 0, argv.join(' '));
      assert.match(help.out, /^Usage: nexus <command>/);
    }
    const { out } = await nexus('--help');
    const listed = out
      .split('\n')
      .filter((l) => /^ {2}[a-z]/.test(l))
      .map((l) => l.trim());
    const expected = [
      'serve',
      'worker',
      'db migrate',
      'tokens create',
      'tokens list',
      'tokens revoke',
      'brands create',
      'brands list',
      'keys list',
      'keys rotate',
      'search reindex',
      'backup',
      'restore',
      'tickets list',
      'tickets show',
      'tickets create',
      'tickets reply',
    ];
    const commands = readmeCommands();
    assert.ok(commands.length >= 15, 'the README lists the commands');
    for (const command of [...expected, ...commands.map((c) => c.command)]) {
      assert.ok(
        listed.some((l) => l === command || l.startsWith(`${command} `)),
        `nexus --help lists ${command}`,
      );
    }
  });

  it('the README’s command lines are commands to run: no [optional] brackets, no | meaning "or"', () => {
    for (const { line } of readmeCommands()) {
      const code = line.split(' # ')[0]!;
      assert.ok(!/[[\]]/.test(code), `brackets in ${JSON.stringify(line)}`);
      assert.ok(!/\|/.test(code), `a bar that reads as a pipe in ${JSON.stringify(line)}`);
    }
  });

  it('a stray argument or an unknown option prints the message and the command’s usage line, exit 2', async () => {
    const bracket = await nexus('brands', 'create', '--name', 'Acme', '[--id', 'brand_123]');
    assert.equal(bracket.code, 2);
    assert.equal(
      bracket.err,
      "Unexpected argument '[--id'. This command does not take positional arguments\nUsage: nexus brands create --name N [--id brand_x]",
    );
    const unknownOption = await nexus('tokens', 'create', '--nmae', 'bot');
    assert.equal(unknownOption.code, 2);
    assert.match(unknownOption.err, /^Unknown option '--nmae'[\s\S]*\nUsage: nexus tokens create --name N --scopes S\[,S\]/);
    const missingValue = await nexus('serve', '--processes');
    assert.equal(missingValue.code, 2);
    assert.match(missingValue.err, /argument missing[\s\S]*\nUsage: nexus serve \[--processes N\|auto\]$/);
    const reindex = await nexus('search', 'reindex', 'brand_123');
    assert.equal(reindex.code, 2);
    assert.match(reindex.err, /\nUsage: nexus search reindex \[--brand brand_x\]$/);
  });

  it('an unknown command says it is unknown, then shows the usage', async () => {
    const unknown = await nexus('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /^nexus: unknown command "frobnicate"\n\nUsage: nexus <command>/);
    const unknownAction = await nexus('tokens', 'delete', 'tok_1');
    assert.equal(unknownAction.code, 2);
    assert.equal(
      unknownAction.err,
      'nexus: unknown command "tokens delete"\n\nUsage: nexus tokens create --name N --scopes S[,S] [--brands B[,B]] [--expires-at T] [--agent agt_…]\nUsage: nexus tokens list\nUsage: nexus tokens revoke <token_id>',
    );
    const groupHelp = await nexus('brands', '--help');
    assert.equal(groupHelp.code, 0);
    assert.equal(groupHelp.out, 'Usage: nexus brands create --name N [--id brand_x]\nUsage: nexus brands list');
  });

  it('the real command prints no stack trace for a literal [--id brand_123]', async () => {
    const outcome = await promisify(execFile)(process.execPath, ['bin/nexus.js', 'brands', 'create', '--name', 'Acme', '[--id', 'brand_123]'], {
      cwd: ROOT,
    }).then(
      () => assert.fail('exit code 0'),
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    assert.equal(outcome.code, 2);
    assert.equal(
      outcome.stderr,
      "Unexpected argument '[--id'. This command does not take positional arguments\nUsage: nexus brands create --name N [--id brand_x]\n",
    );
    assert.equal(outcome.stdout, '');
  });
});
