/** The compiled service's entry file (dist/server/main.mjs). */
export declare const SERVER_ENTRY: string;
/** Compiles src/main.ts into SERVER_ENTRY and answers its path. */
export declare function buildServer(): Promise<string>;
