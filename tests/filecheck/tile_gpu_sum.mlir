// keir-tile-gpu with blocks of 64 threads: one thread per output row i (a partial last block
// clamps its rows to 0 and stores nothing); the tile loop over j in steps of 64; each thread
// stages one j row (y and b, component-major) into workgroup memory, a barrier, the inner loop
// over the tile (its length is min(64, N - t): an exact tail), a barrier before the next tile;
// the state resumes a previous chunk when offset > 0 and is saved unless offset + N == total.
// RUN: keir opt %s --pipeline keir-tile-gpu{block=64},canonicalize,cse

module {
  func.func @gauss() attributes {keir.arg_cats = array<i64: 0, 1, 1>, keir.arg_dims = array<i64: 2, 2, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<2xf32>, vector<2xf32>) -> vector<1xf32>
    %3 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 2 : i64} : () -> vector<1xf32>
    %4 = "keir.mult"(%2, %3) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%4) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK:       module attributes {gpu.container_module}
// CHECK-LABEL: func.func @gauss(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: memref<?xf32>, %[[Y:[a-z0-9]+]]: memref<?xf32>, %[[B:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[STATE:[a-z0-9]+]]: memref<?xf32>, %[[M:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %[[OFFSET:[a-z0-9]+]]: index, %[[TOTAL:[a-z0-9]+]]: index)
// CHECK-SAME:    keir.gpu = "{\22block\22: 64, \22state_len\22: 1}"
// CHECK:         %[[GRID:.*]] = arith.divui %{{.*}}, %c64
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[TILE:.*]] : memref<192xf32, #gpu.address_space<workgroup>>)
// CHECK:           %[[R0:.*]] = arith.muli %[[BX]], %c64
// CHECK:           %[[R:.*]] = arith.addi %[[R0]], %[[TX]]
// CHECK:           %[[ACTIVE:.*]] = arith.cmpi ult, %[[R]], %[[M]]
// CHECK:           %[[ROW:.*]] = arith.select %[[ACTIVE]], %[[R]], %c0
// CHECK:           memref.load %[[X]]
// CHECK:           %[[INIT:.*]] = scf.if %{{.*}} -> (f32) {
// CHECK:             memref.load %[[STATE]][%[[ROW]]]
// CHECK:           %[[SUM:.*]] = scf.for %[[T:.*]] = %c0 to %[[N]] step %c64 iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32)
// CHECK:             %[[J:.*]] = arith.addi %[[T]], %[[TX]]
// CHECK:             %[[IN:.*]] = arith.cmpi ult, %[[J]], %[[N]]
// CHECK:             scf.if %[[IN]] {
// CHECK:               memref.load %[[Y]]
// CHECK:               memref.store %{{.*}}, %[[TILE]][%[[TX]]] : memref<192xf32, #gpu.address_space<workgroup>>
// CHECK:               memref.load %[[B]][%[[J]]]
// CHECK:               memref.store %{{.*}}, %[[TILE]][%{{.*}}] : memref<192xf32, #gpu.address_space<workgroup>>
// CHECK:             gpu.barrier
// CHECK:             %[[LEFT:.*]] = arith.subi %[[N]], %[[T]]
// CHECK:             %[[LEN:.*]] = arith.minui %[[LEFT]], %c64
// CHECK:             %[[TILESUM:.*]] = scf.for %[[C:.*]] = %c0 to %[[LEN]] step %c1 iter_args(%[[A:.*]] = %[[ACC]]) -> (f32)
// CHECK:               memref.load %[[TILE]][%[[C]]] : memref<192xf32, #gpu.address_space<workgroup>>
// CHECK:               arith.addf %[[A]], %{{.*}} fastmath<contract> : f32
// CHECK:             gpu.barrier
// CHECK:             scf.yield %[[TILESUM]] : f32
// CHECK:           scf.if %[[ACTIVE]] {
// CHECK:             scf.if %{{.*}} {
// CHECK:               memref.store %[[SUM]], %[[OUT]][%[[R]]]
// CHECK:             } else {
// CHECK:               memref.store %[[SUM]], %[[STATE]][%[[R]]]
// CHECK:           gpu.terminator
