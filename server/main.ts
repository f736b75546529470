// The central server is issue 2/8 and is not built yet: say so rather than pretend to start.
console.error('The central server is not built yet (issue 2/8). Run `npm test` to check what exists: the protocol contract.');
process.exit(1);
