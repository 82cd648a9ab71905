//! `kpeek-abi`: the Rust mirror of `kmod/include/uapi/kpeek.h`, the ABI of kpeek.ko.
