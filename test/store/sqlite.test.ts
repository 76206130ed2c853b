import { rm } from 'node:fs/promises';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers/temp.js';
import { storeConformance } from './conformance.js';

storeConformance('embedded SQLite', async () => {
  const dir = await tempDir('rookery-store-');
  const store = await openStore(dir);
  return {
    store,
    reopen: () => openStore(dir),
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
