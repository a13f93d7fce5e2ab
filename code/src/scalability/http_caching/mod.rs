//! Chapter 14, HTTP caching: being written (issue 10). Its helper replaces this stub.
