import { databaseGlobalSetup } from '@fleet/chassis/testing';

declare module 'vitest' {
  interface ProvidedContext {
    /** A PGlite template tarball: new test databases start from it instead of running initdb. */
    pgliteTemplate: string;
    /** Real PostgreSQL URL, or '' when unreachable (the PostgreSQL variants are skipped). */
    postgresUrl: string;
    /** Prefix of the schemas this run creates on real PostgreSQL (dropped at teardown). */
    schemaPrefix: string;
  }
}

// Caches the PGlite template, probes PostgreSQL (DATABASE_URL or the local default), cleans up after
export default databaseGlobalSetup({ label: 'index-provisioner', schemaTag: 'ipt' });
