'use strict';
// See original_dst.c. Loads the addon built by `npm install` (node-gyp).
module.exports = require('./build/Release/original_dst.node');
