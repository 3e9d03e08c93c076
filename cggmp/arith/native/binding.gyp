# Node-API addon over the OpenSSL BN functions exported by the node binary (DESIGN §3).
# Deliberately no libraries: linking a system libcrypto would bring a second, different OpenSSL
# into the process. Built by scripts/build-native.mjs with --nodedir set to Node 24's headers.
{
  'targets': [
    {
      'target_name': 'vilna_arith',
      'sources': ['vilna_arith.c', 'fixed_base.c', 'ct_core.c', 'secret_ops.c'],
      'defines': ['NAPI_VERSION=8'],
      'cflags': ['-Wall', '-Wextra', '-Wno-unused-parameter', '-fvisibility=hidden'],
      'cflags_c': ['-std=gnu11', '-O2'],
      'xcode_settings': {
        'OTHER_CFLAGS': ['-Wall', '-Wextra', '-fvisibility=hidden'],
      },
    },
  ],
}
