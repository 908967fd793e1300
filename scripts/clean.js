'use strict';
// Removes the build output so stale compiled files (renamed or deleted sources) never run.
require('fs').rmSync(require('path').join(__dirname, '..', 'dist'), { recursive: true, force: true });
