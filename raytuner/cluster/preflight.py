"""Before and after a job: the cluster's versions checked against this machine's, and why a job failed.

:func:`check_versions` runs before anything is uploaded: Ray's version comes from the
dashboard's ``/api/version`` (read when the client connects); for ``--install package`` a
tiny probe job (``python -c ...``, deleted afterwards) also reports the cluster's Python.
:func:`failure_report` is the one block ``submit --wait`` prints for a job that did not succeed.
"""

from __future__ import annotations

import secrets
import shlex

from raytuner.cluster import compat, jobs
from raytuner.errors import ClusterError


def check_versions(cluster: jobs.Cluster, install: str) -> compat.Versions:
    """Ray (from /api/version) and, for --install package, Python (a tiny probe job) must match here."""
    here = compat.Versions.here()
    remote = compat.Versions(compat.ray_version_of(cluster.client) or "", "")
    if remote.ray:  # a Ray mismatch fails without starting a job
        compat.check_versions(here, remote, cluster.address)
    if install == "package":
        remote = probe(cluster)
        compat.check_versions(here, remote, cluster.address)
    return remote


def probe(cluster: jobs.Cluster) -> compat.Versions:
    """The cluster's Ray and Python versions, from a job that prints them (and is deleted)."""
    job_id = jobs.call(cluster, cluster.client.submit_job, entrypoint="python -c " + shlex.quote(compat.PROBE),
                       submission_id=f"raytuner-probe-{secrets.token_hex(4)}", metadata={"raytuner_probe": "1"})
    try:
        final = jobs.wait(cluster, job_id, poll_s=0.2, timeout_s=120)
        text = jobs.logs(cluster, job_id)
        found = compat.parse_probe(text)
        if found is None:
            raise ClusterError("could not read the cluster's Ray and Python versions:\n"
                               + compat.failure_block(job_id, final, jobs.info(cluster, job_id).message, text, 8))
        return found
    finally:
        jobs.delete_job(cluster, job_id)  # and checked gone: no probe left in `jobs list`


def failure_report(cluster: jobs.Cluster, job_id: str) -> str:
    job = jobs.info(cluster, job_id)
    return compat.failure_block(job_id, str(job.status), cluster.redact(job.message or ""),
                                jobs.logs(cluster, job_id), jobs.FAILURE_LINES)
