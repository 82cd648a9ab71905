# 92-docs: every ```console guest example of README.md and docs/ (embedded in kpeek-guest at
# build time) runs here against the real module; its output must match the page with the same
# wildcard rules as the host's doc_examples test (one matcher: crate kpeek-docex). Each block
# starts from doc-state.sh's state.
. /kpeek/guest/lib.sh

for b in kpeek kpeek-guest runas; do
	command -v $b >/dev/null || { fail "/bin/$b present" "missing: did the static Rust build fail?"; exit 1; }
done
kpeek-guest doc-examples --before-each 'sh /kpeek/guest/doc-state.sh'
rc=$?
# Leave the modules as the next test expects them (the suite loads what is missing).
sh /kpeek/guest/doc-state.sh >/dev/null 2>&1 || fail "92-docs: restore the modules" "doc-state.sh failed"
exit $rc
