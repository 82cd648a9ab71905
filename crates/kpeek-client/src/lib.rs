//! `kpeek-client`: read and drive kpeek.ko through each of its channels.
