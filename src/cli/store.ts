import { storeVerbGroup } from './command.js';

export const storeCommand = storeVerbGroup({
  name: 'store',
  summary: "bring the store's schema up to date",
  verbs: {
    migrate: {
      usage: 'rookery store migrate',
      args: 0,
      // Opening a store migrates it (nodes do the same at start).
      async run(store) {
        console.log(`store ${store.location} is at schema version ${store.schemaVersion}`);
      },
    },
  },
});
