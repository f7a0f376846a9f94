"""pgAdmin settings of the bf/pgadmin image (imported last by pgadmin4/config.py)."""

HELP_PATH = "../../docs/en_US/_build/html/"
MINIFY_HTML = False
SERVER_MODE = True
DATA_DIR = "/var/lib/pgadmin"
SQLITE_PATH = DATA_DIR + "/pgadmin4.db"
SESSION_DB_PATH = DATA_DIR + "/sessions"
STORAGE_DIR = DATA_DIR + "/storage"
KERBEROS_CCACHE_DIR = DATA_DIR + "/krbccache"
AZURE_CREDENTIAL_CACHE_DIR = DATA_DIR + "/azurecredentialcache"
# Logs go to the console (gunicorn's stderr), not to a file in the data volume.
LOG_FILE = "/dev/null"
CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
# No outbound calls from the container.
UPGRADE_CHECK_ENABLED = False
