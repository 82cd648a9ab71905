//! `kpeek-trace`: kernel tracepoints on the live kernel through tracefs and perf_event rings.
