#!/usr/bin/env node
// The `gatehouse` command's entry point. Plain JavaScript on purpose: the
// command itself is TypeScript (src/cli/main.ts), which Node loads only from
// version 24 on; an older Node would fail to parse it before any check in it
// could run, with a stack trace instead of a reason. So the version check
// lives here, in a file every Node can read.

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`gatehouse needs Node.js 24 or newer (this is ${process.version}); run it with npx gatehouse in the checkout (after npm ci) or install Node 24.\n`);
  process.exit(1);
}

await import('../src/cli/main.ts');
