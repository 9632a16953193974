// originalDst(fd): the destination a connection had before an iptables REDIRECT/DNAT rewrote it
// (getsockopt SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST), or null when there is none to report.
#define NAPI_VERSION 6
#include <node_api.h>

#include <errno.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which clash with glibc's
// <netinet/in.h> when included together.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#endif

static napi_value address_object(napi_env env, const char* address, int port) {
  napi_value result, addr, p;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &addr) != napi_ok) return NULL;
  if (napi_create_int32(env, port, &p) != napi_ok) return NULL;
  napi_set_named_property(env, result, "address", addr);
  napi_set_named_property(env, result, "port", p);
  return result;
}

static napi_value null_value(napi_env env) {
  napi_value result;
  napi_get_null(env, &result);
  return result;
}

static napi_value OriginalDst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_number) {
    napi_throw_type_error(env, NULL, "originalDst(fd): fd must be a number");
    return NULL;
  }
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  if (fd < 0) {
    napi_throw_range_error(env, NULL, "originalDst(fd): fd must be a file descriptor");
    return NULL;
  }
#ifdef __linux__
  struct sockaddr_storage local;
  socklen_t len = sizeof(local);
  memset(&local, 0, sizeof(local));
  if (getsockname(fd, (struct sockaddr*)&local, &len) != 0) return null_value(env);
  char text[INET6_ADDRSTRLEN];
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 dst6;
    socklen_t len6 = sizeof(dst6);
    memset(&dst6, 0, sizeof(dst6));
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst6, &len6) == 0 && dst6.sin6_family == AF_INET6) {
      if (!inet_ntop(AF_INET6, &dst6.sin6_addr, text, sizeof(text))) return null_value(env);
      return address_object(env, text, ntohs(dst6.sin6_port));
    }
    // An IPv4 connection accepted on a dual-stack socket: its conntrack entry is IPv4.
  } else if (local.ss_family != AF_INET) {
    return null_value(env);
  }
  struct sockaddr_in dst4;
  socklen_t len4 = sizeof(dst4);
  memset(&dst4, 0, sizeof(dst4));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst4, &len4) != 0 || dst4.sin_family != AF_INET) return null_value(env);
  if (!inet_ntop(AF_INET, &dst4.sin_addr, text, sizeof(text))) return null_value(env);
  return address_object(env, text, ntohs(dst4.sin_port));
#else
  return null_value(env);
#endif
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, OriginalDst, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "originalDst", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
