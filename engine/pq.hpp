// libpq, loaded when a PostgreSQL state is first opened rather than when ochre starts:
// libpq brings some twenty libraries (Kerberos, LDAP, GnuTLS, ...) whose loading was
// half the start-up time of every command. The functions state_pg.cpp calls are
// pointers here, named as in libpq-fe.h; call them as pq::PQexec(...).
#pragma once
#include <libpq-fe.h>

namespace ochre::pq {

#define OCHRE_PQ_FUNCTIONS(X)                                                                      \
  X(PQclear) X(PQconnectdb) X(PQenterPipelineMode) X(PQerrorMessage) X(PQexec) X(PQexecPrepared)  \
  X(PQexitPipelineMode) X(PQfinish) X(PQgetResult) X(PQgetisnull) X(PQgetlength) X(PQgetvalue)    \
  X(PQntuples) X(PQpipelineStatus) X(PQpipelineSync) X(PQprepare) X(PQresultErrorMessage)         \
  X(PQresultStatus) X(PQsendPrepare) X(PQsendQueryPrepared) X(PQsetNoticeProcessor) X(PQstatus)

#define OCHRE_PQ_DECLARE(name) extern decltype(&::name) name;
OCHRE_PQ_FUNCTIONS(OCHRE_PQ_DECLARE)
#undef OCHRE_PQ_DECLARE

// Loads libpq once (thread-safe); fails with a state error naming the library and the
// package to install when it cannot. `shown` is the state's location, for the message.
void load(const char* shown);

}  // namespace ochre::pq
