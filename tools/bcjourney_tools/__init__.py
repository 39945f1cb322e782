"""The laptop side of bcjourney: the command line, the local runner (the embedded default: a folder lake and the
same Lambda handlers), the generator, the evaluation, the report and the benchmarks. Installed by the `local`
extra; never in the Lambda layer, which holds only `bcjourney`."""
