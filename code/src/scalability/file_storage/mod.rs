//! Chapter 17, File storage: being written (issue 10). Its helper replaces this stub.
