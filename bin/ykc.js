#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI lives in the compiled library (npm run build writes dist/).
require('../dist/src/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
