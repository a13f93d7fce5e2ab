//! Chapter 16, Partitioning: being written (issue 10). Its helper replaces this stub.
