//! A write-ahead file: checksummed records, fsync, recovery from a torn tail (work in progress, issue 9).
