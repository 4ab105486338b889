export { Quiver, openQuiver, openBackend, isPostgresUrl, DEFAULT_DATA_DIR } from './quiver.js';
export type { OpenOptions } from './quiver.js';
export { Collection, LIMITS } from './collection.js';
export type { CollectionStats, UpsertOptions } from './collection.js';
export { resolveConfig, defaultConfig, vectorField } from './config.js';
export type { DeepPartial } from './config.js';
