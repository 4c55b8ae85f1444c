// Refuses, in one line on stderr, a Node.js older than package.json's `engines.node`, before anything imports
// the TypeScript sources (which an older Node cannot load). CommonJS with nothing newer than ES2015, so that
// any Node still in use parses it.
'use strict';

const floor = require('../package.json').engines.node.replace(/^>=\s*/, '');

/** The refusal for a Node version string such as `v20.20.2`, or undefined when that version is new enough. */
function nodeVersionProblem(version) {
  const have = version.replace(/^v/, '').split('.').map(Number);
  const need = floor.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    const part = have[i] || 0;
    if (part > need[i]) return undefined;
    if (part < need[i]) {
      return `fcm-server needs Node.js >= ${floor}; this is ${version}. Install Node 24 LTS: https://nodejs.org/en/download`;
    }
  }
  return undefined;
}

const problem = nodeVersionProblem(process.version);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

module.exports = { nodeVersionProblem };
