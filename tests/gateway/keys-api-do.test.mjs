// The keys API and API-key suite (keys.test.mjs) again, with key records in
// Durable Objects (MESH_KEYS_STORE=do, cache 0) and rate limits counted in
// them (MESH_RATE_LIMIT_STORE=do): every behaviour users see stays the same.
process.env.MESH_TEST_KEYS_STORE_VARS = JSON.stringify({ MESH_KEYS_STORE: 'do', MESH_RATE_LIMIT_STORE: 'do' });
await import('./keys.test.mjs');
