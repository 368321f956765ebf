"""deploy/postgres/10-create-app-role.sh on the real throwaway cluster: a role without
superuser rights that owns the database and can migrate it."""

from __future__ import annotations

import os
import subprocess
import uuid

from testkit.deploy import PROJECT_ROOT
from testkit.pg_cluster import PgCluster
from testkit.service import subprocess_env

INIT_SCRIPT = PROJECT_ROOT / "deploy" / "postgres" / "10-create-app-role.sh"


def run_init(
    cluster: PgCluster,
    database: str,
    role: str,
    password: str,
) -> subprocess.CompletedProcess[str]:
    """Run the init script the way the postgres image does, against ``cluster``."""
    env = {
        **os.environ,
        "PATH": f"{cluster.bindir}{os.pathsep}{os.environ['PATH']}",
        "PGHOST": cluster.host,
        "PGPORT": str(cluster.port),
        "POSTGRES_USER": cluster.user,
        "POSTGRES_DB": database,
        "BANDWISE_APP_USER": role,
        "BANDWISE_APP_PASSWORD": password,
    }
    return subprocess.run(
        ["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_app_role_has_no_superuser_and_can_migrate(
    pg_cluster: PgCluster, bandwise_executable: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    database, role = f"deploy_{suffix}", f"bandwise_{suffix}"
    pg_cluster.create_database(database)
    try:
        password = 'it\'s a "quoted" pass; DROP ROLE x'
        first = run_init(pg_cluster, database, role, password)
        assert first.returncode == 0, first.stderr
        again = run_init(pg_cluster, database, role, password)
        assert again.returncode == 0, "running the script twice is harmless: " + again.stderr
        flags = pg_cluster.psql(
            f"SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles "
            f"WHERE rolname = '{role}'"
        )
        assert flags == "f|f|t|t"
        owner = pg_cluster.psql(
            f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'"
        )
        assert owner == role
        url = f"postgresql://{role}@{pg_cluster.host}:{pg_cluster.port}/{database}"
        upgrade = subprocess.run(
            [bandwise_executable, "db", "upgrade", "--url", url],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert upgrade.returncode == 0, upgrade.stderr
        tables = pg_cluster.psql(
            f"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = '{role}'",
            database,
        )
        assert int(tables) >= 4
    finally:
        pg_cluster.drop_database(database)
        pg_cluster.psql(f'DROP ROLE IF EXISTS "{role}"')


def test_app_role_must_differ_from_the_superuser(pg_cluster: PgCluster) -> None:
    result = run_init(pg_cluster, "postgres", pg_cluster.user, "x")
    assert result.returncode == 1
    assert "must differ from POSTGRES_SUPERUSER" in result.stderr
