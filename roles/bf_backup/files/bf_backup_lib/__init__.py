"""The modules of bf_backup.py, the host-side backup tool of roles/bf_backup.

bf_backup.py, beside this package, is the command line; the work is done here, one concern per
module, so that no file grows back into the 1,100-line script this was split from (issue 14).
The package is shipped and installed with bf_backup.py and, like it, needs the standard library
only: the host runs it with its own python3, never with Ansible.

Each module imports only from those above it in this list:

    common     BackupError, the configuration, the clock, running a command, the log line
    streams    a command's output written to a file, through age when encryption is on
    postgres   psql, pg_dump and pg_restore inside the PostgreSQL container; SQL quoting
    retention  backup names in the backup directory, and the retention policy that prunes them
    checksums  SHA-256 of files and of table rows; the check a backup passes before any use
    pgadmin    the PgAdmin data volume's archive, taken with a backup and restored on its own
    restore    restoring a checked backup: into a throwaway server (verify) or the stack's own
    backup     taking one backup, from the dump to retention
"""
