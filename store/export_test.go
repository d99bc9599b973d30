package store

// DecodeValueForTest exposes the value decoder to the external tests (fixture generators and
// migration checks read bbolt directly). dst points to a record type.
func DecodeValueForTest(v []byte, dst any) error { return decodeValue(v, dst, false) }
