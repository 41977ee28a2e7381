package trpc

import "github.com/nanopore/strangler/internal/validate"

// Code is a tRPC error code key, e.g. "BAD_REQUEST".
type Code string

// The tRPC 11 error codes (TRPC_ERROR_CODES_BY_KEY).
const (
	ParseError           Code = "PARSE_ERROR"
	BadRequest           Code = "BAD_REQUEST"
	InternalServerError  Code = "INTERNAL_SERVER_ERROR"
	NotImplemented       Code = "NOT_IMPLEMENTED"
	BadGateway           Code = "BAD_GATEWAY"
	ServiceUnavailable   Code = "SERVICE_UNAVAILABLE"
	GatewayTimeout       Code = "GATEWAY_TIMEOUT"
	Unauthorized         Code = "UNAUTHORIZED"
	PaymentRequired      Code = "PAYMENT_REQUIRED"
	Forbidden            Code = "FORBIDDEN"
	NotFound             Code = "NOT_FOUND"
	MethodNotSupported   Code = "METHOD_NOT_SUPPORTED"
	Timeout              Code = "TIMEOUT"
	Conflict             Code = "CONFLICT"
	PreconditionFailed   Code = "PRECONDITION_FAILED"
	PayloadTooLarge      Code = "PAYLOAD_TOO_LARGE"
	UnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	UnprocessableContent Code = "UNPROCESSABLE_CONTENT"
	TooManyRequests      Code = "TOO_MANY_REQUESTS"
	ClientClosedRequest  Code = "CLIENT_CLOSED_REQUEST"
)

type codeInfo struct {
	jsonrpc, http int
}

// codes is tRPC's table: JSON-RPC number and HTTP status per key. Every
// 5xx shares -32603, as in tRPC.
var codes = map[Code]codeInfo{
	ParseError: {-32700, 400}, BadRequest: {-32600, 400},
	InternalServerError: {-32603, 500}, NotImplemented: {-32603, 501}, BadGateway: {-32603, 502},
	ServiceUnavailable: {-32603, 503}, GatewayTimeout: {-32603, 504},
	Unauthorized: {-32001, 401}, PaymentRequired: {-32002, 402}, Forbidden: {-32003, 403},
	NotFound: {-32004, 404}, MethodNotSupported: {-32005, 405}, Timeout: {-32008, 408},
	Conflict: {-32009, 409}, PreconditionFailed: {-32012, 412}, PayloadTooLarge: {-32013, 413},
	UnsupportedMediaType: {-32015, 415}, UnprocessableContent: {-32022, 422},
	TooManyRequests: {-32029, 429}, ClientClosedRequest: {-32099, 499},
}

// byNumber is TRPC_ERROR_CODES_BY_NUMBER (-32603 maps back to
// INTERNAL_SERVER_ERROR), used for envelopes without data.httpStatus.
var byNumber = map[int]Code{
	-32700: ParseError, -32600: BadRequest, -32603: InternalServerError, -32001: Unauthorized,
	-32002: PaymentRequired, -32003: Forbidden, -32004: NotFound, -32005: MethodNotSupported,
	-32008: Timeout, -32009: Conflict, -32012: PreconditionFailed, -32013: PayloadTooLarge,
	-32015: UnsupportedMediaType, -32022: UnprocessableContent, -32029: TooManyRequests,
	-32099: ClientClosedRequest,
}

// Known reports whether c is in tRPC's table.
func (c Code) Known() bool { _, ok := codes[c]; return ok }

// JSONRPC returns the code's JSON-RPC number (-32603 for unknown codes).
func (c Code) JSONRPC() int {
	if info, ok := codes[c]; ok {
		return info.jsonrpc
	}
	return -32603
}

// HTTPStatus returns the code's HTTP status (500 for unknown codes).
func (c Code) HTTPStatus() int {
	if info, ok := codes[c]; ok {
		return info.http
	}
	return 500
}

// Error is an error with a tRPC code, the Go form of a TRPCError. A handler
// returning one gets that code and status; any other error becomes
// INTERNAL_SERVER_ERROR with the error's own message (contract section 6).
type Error struct {
	Code    Code
	Message string
}

// Errorf is shorthand for &Error{Code: code, Message: msg}.
func Errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

func (e *Error) Error() string { return e.Message }

// AppendSuccess appends {"result":{"data":<data>}}; data is JSON text.
func AppendSuccess(dst, data []byte) []byte {
	dst = append(dst, `{"result":{"data":`...)
	dst = append(dst, data...)
	return append(dst, "}}"...)
}

// AppendError appends tRPC's error envelope with its exact key order:
// {"error":{"message":..,"code":..,"data":{"code":..,"httpStatus":..,"path":..}}}.
// withPath false omits "path" (errors raised before any call is known).
// Strings are escaped as JSON.stringify does (no HTML escaping).
func AppendError(dst []byte, code Code, message, path string, withPath bool) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = validate.AppendString(dst, message)
	dst = append(dst, `,"code":`...)
	dst = appendInt(dst, code.JSONRPC())
	dst = append(dst, `,"data":{"code":`...)
	dst = validate.AppendString(dst, string(code))
	dst = append(dst, `,"httpStatus":`...)
	dst = appendInt(dst, code.HTTPStatus())
	if withPath {
		dst = append(dst, `,"path":`...)
		dst = validate.AppendString(dst, path)
	}
	return append(dst, "}}}"...)
}

func appendInt(dst []byte, n int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// ErrorResponse builds a whole tRPC answer that fails every call of req
// with code and message: one envelope for a single call, an array with one
// element per procedure for a batch. The proxy uses it to answer tRPC
// clients itself, e.g. 502 BAD_GATEWAY when legacy is down.
func ErrorResponse(req Request, code Code, message string) (status int, body []byte) {
	if !req.Batch {
		name := ""
		if len(req.Names) > 0 {
			name = req.Names[0]
		}
		return code.HTTPStatus(), AppendError(nil, code, message, name, true)
	}
	body = append(body, '[')
	for i, name := range req.Names {
		if i > 0 {
			body = append(body, ',')
		}
		body = AppendError(body, code, message, name, true)
	}
	return code.HTTPStatus(), append(body, ']')
}
